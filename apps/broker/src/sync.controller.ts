import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, GrpcStreamCall, RpcException } from '@nestjs/microservices';
import { BrokerContext, listTopicInfos, PublishCall, requestedTopic, SubscribeCall, SyncHandlers, toGrpcStatus } from '@tributary/sync';

export const SYNC_HANDLERS = Symbol('SYNC_HANDLERS');
export const BROKER_CONTEXT = Symbol('BROKER_CONTEXT');

/**
 * Publish and Subscribe take the raw grpc-js call (`@GrpcStreamCall`) and hand it to the sync handlers, which write
 * to it with backpressure. Nest's Observable bridge would queue without limit behind a slow subscriber.
 */
@Controller()
export class SyncController {
  constructor(@Inject(SYNC_HANDLERS) private readonly handlers: SyncHandlers) {}

  @GrpcStreamCall('SyncService', 'Publish')
  publish(call: PublishCall): Promise<void> {
    return this.handlers.publish(call);
  }

  @GrpcStreamCall('SyncService', 'Subscribe')
  subscribe(call: SubscribeCall): Promise<void> {
    return this.handlers.subscribe(call);
  }
}

@Controller()
export class AdminController {
  constructor(@Inject(BROKER_CONTEXT) private readonly context: BrokerContext) {}

  @GrpcMethod('AdminService', 'ListTopics')
  async listTopics(request: Parameters<typeof requestedTopic>[0]): Promise<{ topics: Awaited<ReturnType<typeof listTopicInfos>> }> {
    try {
      return { topics: await listTopicInfos(this.context, requestedTopic(request)) };
    } catch (e) {
      const status = toGrpcStatus(e);
      throw new RpcException({ code: status.code, message: status.details });
    }
  }
}
