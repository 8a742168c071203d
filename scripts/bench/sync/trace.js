'use strict';
/**
 * Instrumentation for the sync latency figure, preloaded into the broker, hub and agent processes with
 * `node -r scripts/bench/sync/trace.js apps/<app>/dist/main.js` (and TRIB_TRACE_FILE set; or for a whole run,
 * `NODE_OPTIONS="-r $PWD/scripts/bench/sync/trace.js" TRIB_TRACE_FILE=/tmp/t.jsonl npm run demo`, then
 * `node scripts/bench/sync/latency.js /tmp/t.jsonl` prints the breakdown). It edits nothing on
 * disk: at load it wraps methods of the compiled libraries (the same module instances the app requires, resolved
 * through the workspace symlinks) so that every phase of the path from an agent's commit to the hub's merge writes
 * a timed event. Without TRIB_TRACE_FILE it does nothing.
 *
 * Events are JSON lines `{ r: role, n: name, s: start ms, e: end ms, c?: commit, ... }` (wall clock with
 * sub-millisecond precision, comparable across processes). Phases are spans with a name; store operations and
 * fsyncs are spans too, tagged with the innermost phase around them (`ph`) through AsyncLocalStorage, so the bench
 * can count fsyncs and store round trips per phase. Buffered, flushed every 250 ms and at exit.
 */
const fs = require('node:fs');
const path = require('node:path');
const { AsyncLocalStorage } = require('node:async_hooks');

const FILE = process.env.TRIB_TRACE_FILE;
/** Who this process is: TRIB_TRACE_ROLE, else guessed from the app's own configuration (so NODE_OPTIONS=-r works). */
function role() {
  const env = process.env;
  if (env.TRIB_TRACE_ROLE) return env.TRIB_TRACE_ROLE;
  const main = process.argv[1] || 'node';
  if (env.TRIB_REGION && /edge-agent/.test(main)) return `agent-${env.TRIB_REGION}`;
  if (env.TRIB_TOPICS && /[/\\]hub[/\\]/.test(main)) return 'hub';
  if (/[/\\]broker[/\\]/.test(main)) return 'broker';
  return `${path.basename(main)}-${process.pid}`;
}
const ROLE = role();
const ROOT = path.resolve(__dirname, '../../..');

const als = new AsyncLocalStorage();
const buffered = [];
const now = () => performance.timeOrigin + performance.now();

function emit(ev) {
  ev.r = ROLE;
  buffered.push(ev);
}

function flush() {
  if (buffered.length === 0) return;
  fs.appendFileSync(FILE, buffered.map((e) => JSON.stringify(e)).join('\n') + '\n');
  buffered.length = 0;
}

function phaseOf() {
  return als.getStore()?.n;
}

/**
 * Wraps `obj[method]` so each call is a span named `name`. `phase` spans become the context of what runs inside
 * them; `before(args, self)` and `after(result, args)` add fields (such as the commit) to the event.
 */
function wrap(obj, method, name, opts = {}) {
  const orig = obj && obj[method];
  if (typeof orig !== 'function') throw new Error(`trace: cannot wrap ${name} (${method} is not a function)`);
  const wrapped = function (...args) {
    const span = { n: typeof name === 'function' ? name(args) : name, s: now() };
    const ph = phaseOf();
    if (ph) span.ph = ph;
    if (opts.before) Object.assign(span, opts.before(args, this));
    const end = (result, error) => {
      span.e = now();
      if (error) span.err = String(error && error.code ? error.code : error).slice(0, 80);
      else if (opts.after) Object.assign(span, opts.after(result, args));
      emit(span);
    };
    const run = () => {
      let ret;
      try {
        ret = orig.apply(this, args);
      } catch (e) {
        end(undefined, e);
        throw e;
      }
      if (ret && typeof ret.then === 'function') {
        return ret.then(
          (v) => {
            end(v);
            return v;
          },
          (e) => {
            end(undefined, e);
            throw e;
          },
        );
      }
      if (ret && typeof ret.next === 'function' && typeof ret[Symbol.asyncIterator] === 'function') return timedIterator(ret, end);
      end(ret);
      return ret;
    };
    return opts.phase ? als.run({ n: span.n }, run) : run();
  };
  Object.defineProperty(wrapped, 'name', { value: orig.name });
  obj[method] = wrapped;
}

/** An async generator's span ends when it is exhausted (or returned early). */
async function* timedIterator(it, end) {
  try {
    for await (const v of it) yield v;
  } finally {
    end(undefined);
  }
}

/** An instant event. */
function mark(n, fields) {
  const ph = phaseOf();
  emit({ n, s: now(), ...(ph ? { ph } : {}), ...fields });
}

function lib(rel) {
  return require(path.join(ROOT, rel));
}

function messageKind(msg) {
  if (!msg || typeof msg !== 'object') return 'end';
  if (typeof msg.body === 'string' && msg.body) return msg.body;
  for (const k of ['hello', 'state', 'start', 'haveQuery', 'haveReply', 'objects', 'commitEnd', 'appended', 'entry', 'ack', 'caughtUp']) {
    if (msg[k] !== undefined && msg[k] !== null) return k;
  }
  return 'other';
}

function install() {
  // Storage: every store round trip, and every fsync, tagged with the phase it belongs to.
  const { LocalStore } = lib('libs/storage/dist/local.store.js');
  const keyClass = (key) => String(key).split('/').slice(0, 1).join('/');
  for (const m of ['putIfAbsent', 'compareAndSwap', 'get', 'getRange', 'getStream', 'readVersioned', 'head', 'delete', 'deleteVersioned', 'list']) {
    wrap(LocalStore.prototype, m, `store.${m}`, { before: (args) => ({ k: keyClass(args[0]) }) });
  }
  const fsp = fs.promises;
  const open = fsp.open;
  let handlePatched = false;
  fsp.open = async function (...args) {
    const fh = await open.apply(this, args);
    if (!handlePatched) {
      handlePatched = true;
      wrap(Object.getPrototypeOf(fh), 'sync', 'fsync');
      wrap(Object.getPrototypeOf(fh), 'datasync', 'fsync');
    }
    return fh;
  };
  const fsyncCb = fs.fsync;
  fs.fsync = function (fd, cb) {
    const span = { n: 'fsync', s: now(), ph: phaseOf() };
    return fsyncCb.call(this, fd, (...a) => {
      span.e = now();
      emit(span);
      cb(...a);
    });
  };
  const fsyncSync = fs.fsyncSync;
  fs.fsyncSync = function (fd) {
    const span = { n: 'fsync', s: now(), ph: phaseOf() };
    try {
      return fsyncSync.call(this, fd);
    } finally {
      span.e = now();
      emit(span);
    }
  };

  // Repository.
  const { ObjectDatabase } = lib('libs/repository/dist/objects/object-database.js');
  wrap(ObjectDatabase.prototype, 'flush', 'db.flush', { phase: true });
  wrap(ObjectDatabase.prototype, 'reload', 'db.reload', { phase: true });
  const { Repository } = lib('libs/repository/dist/repository.js');
  wrap(Repository.prototype, 'writeCommit', 'repo.writeCommit', { phase: true });
  const { RefStore } = lib('libs/repository/dist/refs/ref-store.js');
  wrap(RefStore.prototype, 'update', 'refs.update', { phase: true, before: (args) => ({ ref: String(args[0]) }) });

  // Sync: messages, transfers, the topic log, notifications, cursors, staging.
  const { MessageStream } = lib('libs/sync/dist/wire/message-stream.js');
  wrap(MessageStream.prototype, 'send', (args) => `msg.send.${messageKind(args[0])}`);
  wrap(MessageStream.prototype, 'receive', 'msg.recv', { after: (msg) => ({ kind: messageKind(msg) }) });
  const { TransferSender } = lib('libs/sync/dist/transfer/transfer-sender.js');
  wrap(TransferSender.prototype, 'sendCommit', 'send', { phase: true, before: (args) => ({ c: args[0] }), after: (st) => ({ wire: st && st.wireBytes }) });
  const { TransferReceiver } = lib('libs/sync/dist/transfer/transfer-receiver.js');
  wrap(TransferReceiver.prototype, 'receiveCommit', 'receive', { phase: true, after: (r) => ({ c: r && r.commit, wire: r && r.stats && r.stats.wireBytes }) });
  const { TopicLog } = lib('libs/sync/dist/topics/topic-log.js');
  // The durable append: `appendEntry` (the entry; index and hint follow in `settle`) where it exists, else `append`.
  if (typeof TopicLog.prototype.appendEntry === 'function') {
    wrap(TopicLog.prototype, 'appendEntry', 'broker.log-append', {
      phase: true,
      before: (args) => ({ c: args[2], topic: args[0] }),
      after: (r, args) => {
        if (r && typeof r.settle === 'function') {
          const holder = { settle: r.settle };
          wrap(holder, 'settle', 'broker.log-settle', { phase: true, before: () => ({ c: args[2] }) });
          r.settle = holder.settle;
        }
        return { seq: r && r.entry && r.entry.seq };
      },
    });
  } else {
    wrap(TopicLog.prototype, 'append', 'broker.log-append', { phase: true, before: (args) => ({ c: args[2], topic: args[0] }), after: (e) => ({ seq: e && e.seq }) });
  }
  wrap(TopicLog.prototype, 'head', 'log.head', { phase: true, before: (args) => ({ topic: args[0] }), after: (e) => ({ seq: e && e.seq }) });
  wrap(TopicLog.prototype, 'entry', 'log.entry', { phase: true, before: (args) => ({ topic: args[0], seq: args[1] }) });
  wrap(TopicLog.prototype, 'seqOf', 'log.seqOf', { phase: true });
  const { AppendNotifier } = lib('libs/sync/dist/topics/append-notifier.js');
  const notify = AppendNotifier.prototype.notify;
  AppendNotifier.prototype.notify = function (topic, seq) {
    mark('notify', { topic, seq });
    return notify.call(this, topic, seq);
  };
  wrap(AppendNotifier.prototype, 'wait', 'notifier.wait', { before: (args) => ({ topic: args[0], timeout: args[1] }) });
  const { CursorRepository } = lib('libs/sync/dist/cursors/cursor.repository.js');
  wrap(CursorRepository.prototype, 'advance', 'broker.cursor-advance', { phase: true, before: (args) => ({ topic: args[0], seq: args[2] }) });
  const { StagedObjects } = lib('libs/sync/dist/broker/staged-objects.js');
  wrap(StagedObjects, 'open', 'broker.stage-open', { phase: true });
  for (const [m, n] of [['commit', 'broker.stage-commit'], ['persist', 'broker.stage-persist'], ['load', 'broker.stage-load']]) {
    if (typeof StagedObjects.prototype[m] === 'function') wrap(StagedObjects.prototype, m, n, { phase: true });
  }
  const { SyncClient } = lib('libs/sync/dist/client/sync.client.js');
  wrap(SyncClient.prototype, 'publish', 'publish', {
    phase: true,
    before: (args) => ({ topic: args[1] }),
    after: (r) => ({ c: r && r.head, seqFrom: r && r.seqFrom, seqTo: r && r.seqTo, commits: r && r.commits, wire: r && r.wireBytes }),
  });

  // The agent's and the hub's steps (compiled libraries; the apps call them through their module exports).
  tryWrap(() => {
    const ingest = lib('libs/ingest/dist/batch-commit.js');
    wrap(ingest, 'commitBatch', 'agent.commit', { phase: true, before: (args) => ({ file: path.basename(String(args[1])) }), after: (r) => ({ c: r && r.commit, dup: r && r.duplicate }) });
    const { InboxWatcher } = lib('libs/ingest/dist/inbox-watcher.js');
    wrap(InboxWatcher.prototype, 'landed', 'agent.scan', { phase: true, after: (files) => ({ files: files && files.length }) });
    wrap(InboxWatcher.prototype, 'markDone', 'agent.markDone', { phase: true, before: (args) => ({ file: args[0] && args[0].name }) });
  });
  tryWrap(() => {
    const hub = lib('libs/hub/dist/regional-merge.js');
    wrap(hub, 'mergeRegionalCommit', 'hub.merge', {
      phase: true,
      before: (args) => ({ c: args[1] && args[1].commit, seq: args[1] && args[1].seq, topic: args[1] && args[1].topic }),
      after: (r) => ({ kind: r && r.kind }),
    });
  });
}

function tryWrap(fn) {
  try {
    fn();
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND') return;
    throw e;
  }
}

if (FILE) {
  install();
  setInterval(flush, 250).unref();
  process.on('exit', flush);
  emit({ n: 'trace.start', s: now(), pid: process.pid });
}

module.exports = { wrap, mark };
