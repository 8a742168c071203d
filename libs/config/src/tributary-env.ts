import { envVar } from './env-config';
import { author, folderPath, hostPort, list, milliseconds, oneOf, peerHostPort, redisUrl, simpleName, storeUrl, subscriberName, text, topicName } from './parsers';

/**
 * Every environment variable any Tributary app reads, in one place: the apps build their schemas from these, and the
 * docker-compose test checks that compose only sets variables listed here.
 */
export const TRIB_ENV = {
  redisUrl: envVar('REDIS_URL', 'Redis holding subscription cursors', redisUrl, 'redis://127.0.0.1:6379'),
  listen: envVar('TRIB_LISTEN', 'address the broker listens on (port 0 picks a free port)', hostPort, '127.0.0.1:7070'),
  store: envVar('TRIB_STORE', "storage URL of this process's repository", storeUrl),
  broker: envVar('TRIB_BROKER', 'broker address HOST:PORT', peerHostPort, '127.0.0.1:7070'),
  region: envVar('TRIB_REGION', "the agent's region, e.g. na-aws", simpleName),
  dataset: envVar('TRIB_DATASET', 'dataset name, e.g. heart', simpleName),
  inbox: envVar('TRIB_INBOX', 'folder the agent watches for landed batch files', folderPath),
  inboxSettleMs: envVar(
    'TRIB_INBOX_SETTLE_MS',
    'how long a batch file must go unmodified before the agent takes it, so a file written in place is taken whole (0: at once, for writers that write elsewhere and rename)',
    milliseconds(3_600_000),
    '2000',
  ),
  appendTo: envVar('TRIB_APPEND_TO', 'CSV/JSONL path in the dataset that batches are appended to (empty: new file per batch)', text, ''),
  topics: envVar('TRIB_TOPICS', 'comma-separated topics the hub subscribes to', list(topicName)),
  name: envVar('TRIB_NAME', 'subscriber name', subscriberName, 'hub'),
  topicLogFence: envVar(
    'TRIB_TOPIC_LOG_FENCE',
    "how the broker arbitrates topic-log appends on a store that ignores conditional writes: auto (the Redis fence, brokers may share the store), redis (the fence even on a store that enforces them), off (this broker must be the store's only one)",
    oneOf('auto', 'redis', 'off'),
    'auto',
  ),
  orphanRecheckMs: envVar(
    'TRIB_ORPHAN_RECHECK_MS',
    'how long the broker, on a store that dates an object by the start of its upload (S3), waits before it looks again for the index of an old pack it found without one and deletes the pack',
    milliseconds(3_600_000),
    '120000',
  ),
  home: envVar('TRIB_HOME', 'folder for local repository state (default: derived from TRIB_STORE)', folderPath, ''),
  author: envVar('TRIB_AUTHOR', 'author of the commits this process writes (default: edge-agent/<region>, hub/<name>)', author, ''),
  hubLayout: envVar('TRIB_HUB_LAYOUT', 'where regional trees land in the hub: graft (regions/<region>/) or shared', oneOf('graft', 'shared'), 'graft'),
} as const;

export const KNOWN_ENV_VARS: readonly string[] = [
  ...Object.values(TRIB_ENV).map((v) => v.name),
  // Read by the storage SDKs themselves (see libs/storage); listed so configuration checks accept them.
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
  'STORAGE_EMULATOR_HOST',
  'AZURE_STORAGE_CONNECTION_STRING',
];
