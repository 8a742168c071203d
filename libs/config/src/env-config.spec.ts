import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './env-config';
import { TRIB_ENV } from './tributary-env';

describe('loadConfig', () => {
  const schema = { listen: TRIB_ENV.listen, store: TRIB_ENV.store, topics: TRIB_ENV.topics, layout: TRIB_ENV.hubLayout };

  it('parses values and applies defaults', () => {
    const c = loadConfig(schema, { TRIB_STORE: '/var/lib/trib', TRIB_TOPICS: 'datasets/heart/na-aws, datasets/heart/eu-azure' });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7070, address: '127.0.0.1:7070' });
    expect(c.store).toBe('file:///var/lib/trib');
    expect(c.topics).toEqual(['datasets/heart/na-aws', 'datasets/heart/eu-azure']);
    expect(c.layout).toBe('graft');
  });

  it('names every bad or missing variable in one error', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig(schema, { TRIB_LISTEN: 'nope', TRIB_TOPICS: 'Bad Topic', TRIB_HUB_LAYOUT: 'sideways' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toHaveLength(4);
    expect(err!.message).toMatch(/TRIB_LISTEN="nope": expected HOST:PORT/);
    expect(err!.message).toMatch(/TRIB_STORE is required/);
    expect(err!.message).toMatch(/TRIB_TOPICS="Bad Topic": item 1/);
    expect(err!.message).toMatch(/TRIB_HUB_LAYOUT="sideways": expected one of graft, shared/);
  });

  it('checks TRIB_STORE as the store will read it, so a bad one stops the app at start-up, named', () => {
    const store = (raw: string) => loadConfig({ store: TRIB_ENV.store }, { TRIB_STORE: raw }).store;
    // A bare path is a path: % is a character of it, not an escape.
    expect(store('/tmp/st%41re')).toBe('file:///tmp/st%2541re');
    expect(store('s3://bucket/datasets/')).toBe('s3://bucket/datasets');
    for (const [raw, why] of [
      ['file:relative', 'expected file:///absolute/path'],
      ['s3://Bucket/../x', 'the prefix'],
      ['s3://', 'expected'],
      ['mem://x', 'a mem:// store lives only as long as one process'],
    ]) {
      expect(() => store(raw)).toThrow(new RegExp(`TRIB_STORE="${raw.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}": .*${why}`));
    }
  });

  it('rejects topic names outside the grammar', () => {
    for (const bad of ['a//b', '/a', 'a/', 'A', 'a/b/c/d/e/f/g/h/i', 'a/../b']) {
      expect(() => loadConfig({ t: TRIB_ENV.topics }, { TRIB_TOPICS: bad })).toThrow(ConfigError);
    }
    expect(loadConfig({ t: TRIB_ENV.topics }, { TRIB_TOPICS: 'a/b/c/d/e/f/g/h' }).t).toEqual(['a/b/c/d/e/f/g/h']);
  });
  it('refuses a region or dataset name that could not be a segment of a topic, naming the variable', () => {
    const schema = { region: TRIB_ENV.region, dataset: TRIB_ENV.dataset, name: TRIB_ENV.name };
    for (const [variable, bad] of [['TRIB_REGION', 'a..b'], ['TRIB_REGION', 'na.lock'], ['TRIB_DATASET', 'x.lock']]) {
      const env = { TRIB_REGION: 'na-aws', TRIB_DATASET: 'heart', [variable]: bad };
      expect(() => loadConfig(schema, env)).toThrow(`${variable}="${bad}": a name may not contain ".." nor end in ".lock"`);
    }
    expect(loadConfig(schema, { TRIB_REGION: 'na.aws-1', TRIB_DATASET: 'heart_v2' })).toEqual({ region: 'na.aws-1', dataset: 'heart_v2', name: 'hub' });
    // The message says what the rule is, the first character included.
    for (const bad of ['-lead', '_a', '.x', 'Na', 'x'.repeat(64)]) {
      expect(() => loadConfig(schema, { TRIB_REGION: bad, TRIB_DATASET: 'heart' })).toThrow(
        `TRIB_REGION=${JSON.stringify(bad)}: expected 1 to 63 lowercase letters, digits, ".", "_" or "-", the first a letter or digit`,
      );
    }
  });

  it("takes TRIB_NAME by the broker's rule for subscriber names, capitals included, naming it when bad", () => {
    const schema = { name: TRIB_ENV.name };
    // A subscriber name is never a topic segment, only part of a Redis key: the broker has always taken these.
    for (const name of ['Alice', 'hub..1', 'x.lock', '_edge', 'x'.repeat(64)]) expect(loadConfig(schema, { TRIB_NAME: name }).name).toBe(name);
    for (const bad of ['a:b', 'hub 1', 'x'.repeat(65), 'hüb']) {
      expect(() => loadConfig(schema, { TRIB_NAME: bad })).toThrow(`TRIB_NAME="${bad}": expected 1 to 64 of A-Z a-z 0-9 . _ -`);
    }
  });

  it('takes the author of an app\'s commits as one line, empty for the app\'s own default', () => {
    const schema = { author: TRIB_ENV.author };
    expect(loadConfig(schema, {}).author).toBe('');
    expect(loadConfig(schema, { TRIB_AUTHOR: ' Ingest NA <ingest@example.org> ' }).author).toBe('Ingest NA <ingest@example.org>');
    expect(() => loadConfig(schema, { TRIB_AUTHOR: 'a\nb' })).toThrow(/TRIB_AUTHOR=.*expected one line, without control characters/);
  });

  it('takes REDIS_URL with no database or a whole-number one, and refuses any other path or db, naming REDIS_URL', () => {
    const redis = (raw: string) => loadConfig({ redisUrl: TRIB_ENV.redisUrl }, { REDIS_URL: raw }).redisUrl;
    expect(loadConfig({ redisUrl: TRIB_ENV.redisUrl }, {}).redisUrl).toBe('redis://127.0.0.1:6379');
    for (const good of ['redis://h:6379', 'redis://h:6379/', 'redis://h:6379/0', 'rediss://u:p@h/15', 'redis://h/3?db=3']) expect(redis(good)).toBe(good);
    // ioredis would read these as NaN (a SELECT that fails uncaught), as database 1, or as database 0 and the rest unused.
    for (const bad of ['redis://h:6379/abc', 'redis://h:6379/%20', 'redis://h:6379/ 1', 'redis://h:6379/1.5', 'redis://h:6379/0/x', 'redis://h:6379/-1', 'redis://h:6379/+1', 'redis://h:6379/%31', 'redis://h?db=abc', 'redis://h/?db=']) {
      expect(() => redis(bad)).toThrow(`REDIS_URL=${JSON.stringify(bad)}: expected the database, if any, as a whole number, such as redis://127.0.0.1:6379/1`);
    }
  });

  it("reads the broker's topic-log fence setting: auto by default, a bad value named", () => {
    const schema = { fence: TRIB_ENV.topicLogFence };
    expect(loadConfig(schema, {}).fence).toBe('auto');
    expect(loadConfig(schema, { TRIB_TOPIC_LOG_FENCE: 'off' }).fence).toBe('off');
    expect(() => loadConfig(schema, { TRIB_TOPIC_LOG_FENCE: 'maybe' })).toThrow(/TRIB_TOPIC_LOG_FENCE="maybe": expected one of auto, redis, off/);
  });

  it("reads how long the agent lets an inbox file settle: 2 s by default, 0 allowed, a bad value named", () => {
    const schema = { settle: TRIB_ENV.inboxSettleMs };
    expect(loadConfig(schema, {}).settle).toBe(2000);
    expect(loadConfig(schema, { TRIB_INBOX_SETTLE_MS: '0' }).settle).toBe(0);
    for (const bad of ['-1', '1.5', '2s', '3600001']) {
      expect(() => loadConfig(schema, { TRIB_INBOX_SETTLE_MS: bad })).toThrow(
        /TRIB_INBOX_SETTLE_MS=.*expected a whole number of milliseconds from 0 to 3600000/,
      );
    }
  });

  it('takes port 0 for the address to listen on, not for the broker to connect to', () => {
    expect(loadConfig({ listen: TRIB_ENV.listen }, { TRIB_LISTEN: '127.0.0.1:0' }).listen.port).toBe(0);
    expect(() => loadConfig({ broker: TRIB_ENV.broker }, { TRIB_BROKER: 'broker:0' })).toThrow(/TRIB_BROKER="broker:0": port must be 1..65535/);
    expect(loadConfig({ broker: TRIB_ENV.broker }, { TRIB_BROKER: 'broker:7070' }).broker.port).toBe(7070);
  });

  it('resolves a relative TRIB_INBOX, TRIB_HOME and ./ or ../ TRIB_STORE once, against the working folder', () => {
    const schema = { inbox: TRIB_ENV.inbox, home: TRIB_ENV.home, store: TRIB_ENV.store };
    const cwd = process.cwd();
    const c = loadConfig(schema, { TRIB_INBOX: 'in/box', TRIB_HOME: '../home', TRIB_STORE: './st/ore' });
    expect(c).toEqual({ inbox: path.join(cwd, 'in', 'box'), home: path.join(path.dirname(cwd), 'home'), store: pathToFileURL(path.join(cwd, 'st', 'ore')).href });
    expect(loadConfig(schema, { TRIB_INBOX: '.', TRIB_STORE: '..' })).toMatchObject({ inbox: cwd, store: pathToFileURL(path.dirname(cwd)).href });
  });

  it('refuses a relative TRIB_STORE without ./ or ../, which may be a URL missing its scheme, naming it', () => {
    const store = (raw: string) => loadConfig({ store: TRIB_ENV.store }, { TRIB_STORE: raw }).store;
    expect(() => store('tributary/na-aws')).toThrow(
      'TRIB_STORE="tributary/na-aws": expected ./tributary/na-aws for a folder (a relative path starts with ./ or ../), or a URL with its scheme, such as s3://tributary/na-aws',
    );
    expect(() => store('store')).toThrow(/^invalid configuration:\n {2}TRIB_STORE="store": expected \.\/store for a folder/);
  });

  it('suggests ./ and s3:// for a relative TRIB_STORE only where each suggestion is one the store takes as shown', () => {
    const store = (raw: string) => loadConfig({ store: TRIB_ENV.store }, { TRIB_STORE: raw }).store;
    const general = 'a relative folder starts with ./ or ../; a cloud store needs its scheme (s3://, gs://, az://)';
    // A Windows-style path: neither ./.\x nor s3://.\x is what was meant, and s3://.\x is no store URL at all.
    expect(() => store('.\\x')).toThrow(`TRIB_STORE=".\\\\x": ${general}`);
    expect(() => store('a\tb')).toThrow(`TRIB_STORE="a\\tb": ${general}`);
    // s3://st3/ would be read as s3://st3, and s3://x#y is refused: the folder alone is suggested.
    const folderOnly = (raw: string) => `expected ./${raw} for a folder (a relative path starts with ./ or ../), or a URL with its scheme (s3://, gs://, az://)`;
    for (const raw of ['st3/', 'x#y', 'a//b']) expect(() => store(raw)).toThrow(`TRIB_STORE=${JSON.stringify(raw)}: ${folderOnly(raw)}`);
  });

  it('names a TRIB_INBOX that cannot be a folder', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trib-inbox-'));
    try {
      writeFileSync(path.join(dir, 'file'), 'x');
      expect(() => loadConfig({ inbox: TRIB_ENV.inbox }, { TRIB_INBOX: path.join(dir, 'file') })).toThrow(/TRIB_INBOX=".*file": not a folder/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes a TRIB_HOME that is, or can become, a folder, and names one that cannot', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trib-home-'));
    try {
      writeFileSync(path.join(dir, 'file'), 'x');
      const home = (raw: string) => loadConfig({ home: TRIB_ENV.home }, { TRIB_HOME: raw }).home;
      expect(loadConfig({ home: TRIB_ENV.home }, {}).home).toBe('');
      expect([home(dir), home(path.join(dir, 'new', 'deeper'))]).toEqual([dir, path.join(dir, 'new', 'deeper')]);
      expect(() => home(path.join(dir, 'file'))).toThrow(/TRIB_HOME=".*file": not a folder/);
      expect(() => home(path.join(dir, 'file', 'x'))).toThrow(new RegExp(`TRIB_HOME=".*": ${dir}/file is not a folder`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
