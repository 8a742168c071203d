import * as grpc from '@grpc/grpc-js';
import type { ListTopicsResponse } from '../generated/tributary/v1/ListTopicsResponse';
import { BrokerContext } from './broker-context';
import { handleListTopics, ListTopicsCall } from './admin.handler';
import { handlePublish, PublishCall } from './publish.handler';
import { handleSubscribe, SubscribeCall } from './subscribe.handler';

/**
 * The broker's RPC handlers over raw grpc-js calls, for a plain grpc-js Server (startBroker) or a Nest controller
 * that delegates to them (`@GrpcStreamCall` hands over the raw call). The streaming handlers write to the call and
 * honour backpressure themselves: never route them through an Observable bridge, which buffers without limit.
 * None of them throws: every failure ends the call with its gRPC status.
 */
export interface SyncHandlers {
  publish(call: PublishCall): Promise<void>;
  subscribe(call: SubscribeCall): Promise<void>;
  listTopics(call: ListTopicsCall, callback: grpc.sendUnaryData<ListTopicsResponse>): Promise<void>;
}

export function createSyncHandlers(ctx: BrokerContext): SyncHandlers {
  return {
    publish: (call) => handlePublish(ctx, call),
    subscribe: (call) => handleSubscribe(ctx, call),
    listTopics: (call, callback) => handleListTopics(ctx, call, callback),
  };
}
