import { envVar, TRIB_ENV } from '@tributary/config';
import { validateEntryName } from '@tributary/core';

/** The hub's environment. Only TRIB_HOME and the default of TRIB_LISTEN are the hub's own. */
export const HUB_ENV = {
  topics: envVar(TRIB_ENV.topics.name, TRIB_ENV.topics.description, (raw) => {
    const topics = TRIB_ENV.topics.parse(raw);
    const regions = new Map<string, string>();
    for (const t of topics) {
      const region = checkedRegionOf(t);
      const other = regions.get(region);
      if (other !== undefined) throw new Error(`${other} and ${t} would both land in regions/${region}/`);
      regions.set(region, t);
    }
    return topics;
  }),
  name: TRIB_ENV.name,
  layout: TRIB_ENV.hubLayout,
  store: TRIB_ENV.store,
  broker: TRIB_ENV.broker,
  listen: envVar(TRIB_ENV.listen.name, 'address of the status endpoint GET /health (port 0 picks a free port)', TRIB_ENV.listen.parse, '127.0.0.1:0'),
  home: TRIB_ENV.home,
  author: TRIB_ENV.author,
};

/** A topic's region: its last segment (`datasets/heart/na-aws` -> `na-aws`). */
export function regionOf(topic: string): string {
  return topic.slice(topic.lastIndexOf('/') + 1);
}

/** The region of a topic whose region can be a folder name (`regions/<region>/`); throws naming the topic if not. */
function checkedRegionOf(topic: string): string {
  const region = regionOf(topic);
  try {
    validateEntryName(region);
  } catch (e) {
    throw new Error(`topic ${topic}: its region ${JSON.stringify(region)} cannot be a folder: ${(e as Error).message}`);
  }
  return region;
}
