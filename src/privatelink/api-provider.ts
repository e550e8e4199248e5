import type { Config } from '../config/schema';
import type { Logger } from '../runtime/log';
import type { PrivateLinkClient } from './client';
import type { CredentialProvider } from './credentials';
import type { ApiProvider } from './sync';

/**
 * The client and the credential chain pull in the Alibaba Cloud SDK (@alicloud/*, @darabonba/*:
 * ~400 modules, tens of ms and several MB of heap). They are required on the first sync, not when
 * the daemon starts: it answers from its snapshot and static entries without them.
 */
function loadCloudSdk(): { client: typeof import('./client'); credentials: typeof import('./credentials') } {
  return { client: require('./client'), credentials: require('./credentials') };
}

export type ApiClientConfig = Pick<Config, 'privatelink' | 'region'>;

/**
 * Owns the API client and its credential chain for one config: built on first use, rebuilt with a
 * fresh chain when a sync asks for it (the default chain sticks to the provider it last tried, so
 * after an auth or credential failure only a new chain looks again). The daemon and the one-shot
 * commands share it.
 */
export class ApiClientProvider {
  private client: PrivateLinkClient | undefined;
  private credentials: CredentialProvider | undefined;

  constructor(private config: ApiClientConfig, private readonly logger: Logger) {}

  /** A reload: a changed privatelink section (endpoint, credentials...) gets a new client and chain. */
  reconfigure(next: ApiClientConfig): void {
    const changed = next.region !== this.config.region || JSON.stringify(next.privatelink) !== JSON.stringify(this.config.privatelink);
    this.config = next;
    if (changed) this.close();
  }

  /** The function the Syncer calls at the start of every sync. */
  readonly provide: ApiProvider = ({ rebuild }) => {
    if (!this.client || rebuild) {
      this.client?.close();
      const sdk = loadCloudSdk();
      if (rebuild || !this.credentials) this.credentials = new sdk.credentials.CredentialProvider(this.config.privatelink.credentials, { logger: this.logger.child({ component: 'credentials' }) });
      this.client = sdk.client.createPrivateLinkClient({ config: this.config.privatelink, region: this.config.region, logger: this.logger, credentials: this.credentials });
    }
    return this.client;
  };

  /** Frees the client's sockets; a later `provide` builds a new one. */
  close(): void {
    this.client?.close();
    this.client = undefined;
    this.credentials = undefined;
  }
}
