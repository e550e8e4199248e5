import t from 'tap';
import type { PrivateLinkApi } from '../../src/privatelink/api-types';
import { fetchEntry, headerDateMs } from '../../src/privatelink/fetch';
import { loadSnapshot, saveSnapshot } from '../../src/privatelink/snapshot';
import { dataFetchedAtMs } from '../../src/privatelink/model';
import { FakeApi, endpoint, zone } from '../helpers/privatelink-fake';

// The API's own clock (its HTTP Date) is what a hub's zone serial comes from: recorded per entry
// at the fetch, kept in the snapshot, optional so older snapshots still load.

const entry = { kind: 'endpoint' as const, names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-a' };

/** The fake API, with a Date header on every answer: the first call's date, then a second later each time. */
function dated(firstMs: number): { api: PrivateLinkApi; fake: FakeApi } {
  const fake = new FakeApi();
  fake.endpoints = [endpoint('ep-a', [zone('k', '10.0.0.1')])];
  let at = firstMs;
  const withDate = <R extends object>(r: R): R => {
    const out = { ...r, headers: { date: new Date(at).toUTCString() } };
    at += 1000;
    return out;
  };
  const api: PrivateLinkApi = {
    listVpcEndpoints: async (q) => withDate(await fake.listVpcEndpoints(q)),
    listVpcEndpointZones: async (q) => withDate(await fake.listVpcEndpointZones(q)),
    getVpcEndpointAttribute: async (q) => withDate(await fake.getVpcEndpointAttribute(q)),
  };
  return { api, fake };
}

t.test('headerDateMs: an HTTP date, or undefined', async (t) => {
  t.equal(headerDateMs({ date: 'Sun, 06 Dec 2026 23:00:00 GMT' }), Date.UTC(2026, 11, 6, 23));
  t.equal(headerDateMs({ Date: 'Sun, 06 Dec 2026 23:00:00 GMT' }), Date.UTC(2026, 11, 6, 23));
  t.equal(headerDateMs({ date: 'yesterday' }), undefined);
  t.equal(headerDateMs({}), undefined);
  t.equal(headerDateMs(undefined), undefined);
});

t.test('a fetched entry carries the earliest API time of its sync beside our own fetch time', async (t) => {
  const api0 = Date.UTC(2026, 11, 6, 23, 0, 0);
  const { api } = dated(api0);
  const local = api0 + 600_000; // our clock ten minutes fast
  const state = await fetchEntry({ api, regionId: 'cn-hangzhou', now: () => local }, entry);
  t.equal(state.fetchedAtMs, local, 'our own time, for ages and /status');
  t.equal(state.apiFetchedAtMs, api0, 'the API\'s, the earliest answer of the fetch');
  t.equal(dataFetchedAtMs([state], local), api0, 'the data time a hub publishes under');
  const { fake } = dated(api0);
  const undated = await fetchEntry({ api: fake, regionId: 'cn-hangzhou', now: () => local }, entry);
  t.equal(undated.apiFetchedAtMs, undefined, 'no Date header: no API time');
  t.equal(dataFetchedAtMs([undated], local), local, 'and our own time stands in');
});

t.test('the snapshot keeps apiFetchedAtMs; a snapshot without it still loads', async (t) => {
  const dir = t.testdir({});
  const api0 = Date.UTC(2026, 11, 6, 23, 0, 0);
  const state = await fetchEntry({ api: dated(api0).api, regionId: 'cn-hangzhou', now: () => api0 + 5 }, entry);
  await saveSnapshot(dir, { entries: [state] });
  const loaded = await loadSnapshot(dir, [entry]);
  t.equal(loaded?.entries[0]?.apiFetchedAtMs, api0);
  const { apiFetchedAtMs: _drop, ...older } = state;
  await saveSnapshot(dir, { entries: [older] });
  const old = await loadSnapshot(dir, [entry]);
  t.equal(old?.entries[0]?.apiFetchedAtMs, undefined, 'an older snapshot loads');
  t.equal(dataFetchedAtMs(old?.entries ?? [], 0), api0 + 5, 'with its fetch time as the data time');
});
