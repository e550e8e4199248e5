import type { Config } from '../config/schema';
import type { Logger } from '../runtime/log';
import { loadNativeAddon } from '../native/addon';
import { NativeUdpExchanger } from './native-udp-exchanger';
import { dgramExchanger } from './udp-exchange';
import { UpstreamForwarder, type ForwarderObserver } from './upstream-forwarder';

/**
 * The forwarder a config asks for. Upstream UDP goes through the addon when it loads, unless
 * `listen.udp_io: dgram`; the engine is chosen at start (a reload keeps it).
 */
export function forwarderForConfig(config: Config, observer: ForwarderObserver, logger: Logger): UpstreamForwarder {
  const addon = config.listen.udpIo === 'dgram' ? undefined : loadNativeAddon();
  const udp = addon?.ok ? new NativeUdpExchanger(addon.binding) : dgramExchanger;
  return new UpstreamForwarder(config.upstream, observer, logger, config.limits.maxForwardsInFlight, udp);
}
