// Original file: proto/tributary/v1/sync.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { PublishRequest as _tributary_v1_PublishRequest, PublishRequest__Output as _tributary_v1_PublishRequest__Output } from '../../tributary/v1/PublishRequest';
import type { PublishResponse as _tributary_v1_PublishResponse, PublishResponse__Output as _tributary_v1_PublishResponse__Output } from '../../tributary/v1/PublishResponse';
import type { SubscribeRequest as _tributary_v1_SubscribeRequest, SubscribeRequest__Output as _tributary_v1_SubscribeRequest__Output } from '../../tributary/v1/SubscribeRequest';
import type { SubscribeResponse as _tributary_v1_SubscribeResponse, SubscribeResponse__Output as _tributary_v1_SubscribeResponse__Output } from '../../tributary/v1/SubscribeResponse';

export interface SyncServiceClient extends grpc.Client {
  Publish(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_PublishRequest, _tributary_v1_PublishResponse__Output>;
  Publish(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_PublishRequest, _tributary_v1_PublishResponse__Output>;
  publish(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_PublishRequest, _tributary_v1_PublishResponse__Output>;
  publish(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_PublishRequest, _tributary_v1_PublishResponse__Output>;
  
  Subscribe(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_SubscribeRequest, _tributary_v1_SubscribeResponse__Output>;
  Subscribe(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_SubscribeRequest, _tributary_v1_SubscribeResponse__Output>;
  subscribe(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_SubscribeRequest, _tributary_v1_SubscribeResponse__Output>;
  subscribe(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tributary_v1_SubscribeRequest, _tributary_v1_SubscribeResponse__Output>;
  
}

export interface SyncServiceHandlers extends grpc.UntypedServiceImplementation {
  Publish: grpc.handleBidiStreamingCall<_tributary_v1_PublishRequest__Output, _tributary_v1_PublishResponse>;
  
  Subscribe: grpc.handleBidiStreamingCall<_tributary_v1_SubscribeRequest__Output, _tributary_v1_SubscribeResponse>;
  
}

export interface SyncServiceDefinition extends grpc.ServiceDefinition {
  Publish: MethodDefinition<_tributary_v1_PublishRequest, _tributary_v1_PublishResponse, _tributary_v1_PublishRequest__Output, _tributary_v1_PublishResponse__Output>
  Subscribe: MethodDefinition<_tributary_v1_SubscribeRequest, _tributary_v1_SubscribeResponse, _tributary_v1_SubscribeRequest__Output, _tributary_v1_SubscribeResponse__Output>
}
