import * as grpc from '@grpc/grpc-js';
import type { ListTopicsRequest__Output } from '../generated/tributary/v1/ListTopicsRequest';
import type { ListTopicsResponse } from '../generated/tributary/v1/ListTopicsResponse';
import type { TopicInfo as WireTopicInfo } from '../generated/tributary/v1/TopicInfo';
import { toGrpcStatus } from '../wire/status-mapping';
import { BrokerContext } from './broker-context';

export type ListTopicsCall = grpc.ServerUnaryCall<ListTopicsRequest__Output, ListTopicsResponse>;

/**
 * Every topic, sorted, with its head, last seq, and each subscriber's cursor, lag (head seq - cursor) and the
 * conflicts it acknowledged (seq and note, oldest first). A cursor is shown as a subscribe reads it: a stored value
 * that is not a seq (CursorRepository.list) or is past the head is 0, nothing acknowledged, with the whole topic as lag.
 */
export async function listTopicInfos(ctx: BrokerContext): Promise<WireTopicInfo[]> {
  const out: WireTopicInfo[] = [];
  for (const topic of await ctx.log.topics()) {
    let head = await ctx.log.head(topic);
    if (!head) continue;
    const subs = await ctx.cursors.list(topic);
    // An ack of an entry appended after the head was read may have landed meanwhile: look again before judging.
    if (subs.some((s) => s.cursor > head!.seq)) head = (await ctx.log.head(topic)) ?? head;
    const seq = head.seq;
    out.push({
      topic,
      head: head.commit,
      seq,
      subscribers: subs.map((s) => {
        const cursor = s.cursor > seq ? 0 : s.cursor;
        return { name: s.name, cursor, lag: seq - cursor, conflicts: s.conflicts };
      }),
    });
  }
  return out;
}

export async function handleListTopics(ctx: BrokerContext, _call: ListTopicsCall, callback: grpc.sendUnaryData<ListTopicsResponse>): Promise<void> {
  try {
    callback(null, { topics: await listTopicInfos(ctx) });
  } catch (e) {
    const status = toGrpcStatus(e);
    ctx.logger('warn', `list topics: ${status.details}`);
    callback({ code: status.code, details: status.details, metadata: new grpc.Metadata() }, null);
  }
}
