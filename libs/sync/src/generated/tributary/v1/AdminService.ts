// Original file: proto/tributary/v1/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ListTopicsRequest as _tributary_v1_ListTopicsRequest, ListTopicsRequest__Output as _tributary_v1_ListTopicsRequest__Output } from '../../tributary/v1/ListTopicsRequest';
import type { ListTopicsResponse as _tributary_v1_ListTopicsResponse, ListTopicsResponse__Output as _tributary_v1_ListTopicsResponse__Output } from '../../tributary/v1/ListTopicsResponse';

export interface AdminServiceClient extends grpc.Client {
  ListTopics(argument: _tributary_v1_ListTopicsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _tributary_v1_ListTopicsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _tributary_v1_ListTopicsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _tributary_v1_ListTopicsRequest, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _tributary_v1_ListTopicsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _tributary_v1_ListTopicsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _tributary_v1_ListTopicsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _tributary_v1_ListTopicsRequest, callback: grpc.requestCallback<_tributary_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AdminServiceHandlers extends grpc.UntypedServiceImplementation {
  ListTopics: grpc.handleUnaryCall<_tributary_v1_ListTopicsRequest__Output, _tributary_v1_ListTopicsResponse>;
  
}

export interface AdminServiceDefinition extends grpc.ServiceDefinition {
  ListTopics: MethodDefinition<_tributary_v1_ListTopicsRequest, _tributary_v1_ListTopicsResponse, _tributary_v1_ListTopicsRequest__Output, _tributary_v1_ListTopicsResponse__Output>
}
