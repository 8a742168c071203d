import * as grpc from '@grpc/grpc-js';
import type { ListTopicsRequest__Output } from '../generated/tributary/v1/ListTopicsRequest';
import type { ListTopicsResponse } from '../generated/tributary/v1/ListTopicsResponse';
import type { TopicInfo as WireTopicInfo } from '../generated/tributary/v1/TopicInfo';
import { parseTopicName, TopicName } from '@tributary/core';
import { MAX_MESSAGE_BYTES } from '../wire/grpc-options';
import { toGrpcStatus } from '../wire/status-mapping';
import { BrokerContext } from './broker-context';

export type ListTopicsCall = grpc.ServerUnaryCall<ListTopicsRequest__Output, ListTopicsResponse>;

/** Subscribers listed per topic at most: names are anyone's to register, and the answer has a size limit. */
export const MAX_LISTED_SUBSCRIBERS = 1000;
/** About the most bytes of subscribers (names and conflict notes) one answer lists, well under MAX_MESSAGE_BYTES. */
const LISTED_SUBSCRIBER_BYTES = MAX_MESSAGE_BYTES / 2;

/**
 * Every topic (or only `only`), sorted, with its head, last seq, and each subscriber's cursor, lag (head seq - cursor)
 * and the conflicts it acknowledged (seq and note, oldest first). A cursor is shown as a subscribe reads it: a stored
 * value that is not a seq (CursorRepository.list) or is past the head is 0, nothing acknowledged, with the whole topic
 * as lag. Subscribers past MAX_LISTED_SUBSCRIBERS of a topic, or past LISTED_SUBSCRIBER_BYTES of the answer, are
 * counted in `subscribersOmitted` instead, so the answer always fits in a message.
 */
export async function listTopicInfos(ctx: BrokerContext, only?: TopicName): Promise<WireTopicInfo[]> {
  const out: WireTopicInfo[] = [];
  let budget = LISTED_SUBSCRIBER_BYTES;
  for (const topic of only ? [only] : await ctx.log.topics()) {
    let head = await ctx.log.head(topic);
    if (!head) continue;
    const { subscribers: subs, total } = await ctx.cursors.list(topic, MAX_LISTED_SUBSCRIBERS);
    // An ack of an entry appended after the head was read may have landed meanwhile: look again before judging.
    if (subs.some((s) => s.cursor > head!.seq)) head = (await ctx.log.head(topic)) ?? head;
    const seq = head.seq;
    const listed: WireTopicInfo['subscribers'] = [];
    for (const s of subs) {
      budget -= 64 + s.name.length + s.conflicts.reduce((n, c) => n + 16 + Buffer.byteLength(c.note), 0);
      if (budget < 0) break;
      const cursor = s.cursor > seq ? 0 : s.cursor;
      listed.push({ name: s.name, cursor, lag: seq - cursor, conflicts: s.conflicts });
    }
    out.push({ topic, head: head.commit, seq, subscribers: listed, subscribersOmitted: Math.max(0, total - listed.length) });
  }
  return out;
}

/** The topic a ListTopics request names, if any: InvalidArgumentError for one that is no topic name. */
export function requestedTopic(request: ListTopicsRequest__Output | undefined): TopicName | undefined {
  return request?.topic ? parseTopicName(request.topic) : undefined;
}

export async function handleListTopics(ctx: BrokerContext, call: ListTopicsCall, callback: grpc.sendUnaryData<ListTopicsResponse>): Promise<void> {
  try {
    callback(null, { topics: await listTopicInfos(ctx, requestedTopic(call.request)) });
  } catch (e) {
    const status = toGrpcStatus(e);
    ctx.logger('warn', `list topics: ${status.details}`);
    callback({ code: status.code, details: status.details, metadata: new grpc.Metadata() }, null);
  }
}
