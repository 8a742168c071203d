import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminServiceClient as _tributary_v1_AdminServiceClient, AdminServiceDefinition as _tributary_v1_AdminServiceDefinition } from './tributary/v1/AdminService';
import type { ListTopicsRequest as _tributary_v1_ListTopicsRequest, ListTopicsRequest__Output as _tributary_v1_ListTopicsRequest__Output } from './tributary/v1/ListTopicsRequest';
import type { ListTopicsResponse as _tributary_v1_ListTopicsResponse, ListTopicsResponse__Output as _tributary_v1_ListTopicsResponse__Output } from './tributary/v1/ListTopicsResponse';
import type { SubscriberConflict as _tributary_v1_SubscriberConflict, SubscriberConflict__Output as _tributary_v1_SubscriberConflict__Output } from './tributary/v1/SubscriberConflict';
import type { SubscriberInfo as _tributary_v1_SubscriberInfo, SubscriberInfo__Output as _tributary_v1_SubscriberInfo__Output } from './tributary/v1/SubscriberInfo';
import type { TopicInfo as _tributary_v1_TopicInfo, TopicInfo__Output as _tributary_v1_TopicInfo__Output } from './tributary/v1/TopicInfo';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tributary: {
    v1: {
      AdminService: SubtypeConstructor<typeof grpc.Client, _tributary_v1_AdminServiceClient> & { service: _tributary_v1_AdminServiceDefinition }
      ListTopicsRequest: MessageTypeDefinition<_tributary_v1_ListTopicsRequest, _tributary_v1_ListTopicsRequest__Output>
      ListTopicsResponse: MessageTypeDefinition<_tributary_v1_ListTopicsResponse, _tributary_v1_ListTopicsResponse__Output>
      SubscriberConflict: MessageTypeDefinition<_tributary_v1_SubscriberConflict, _tributary_v1_SubscriberConflict__Output>
      SubscriberInfo: MessageTypeDefinition<_tributary_v1_SubscriberInfo, _tributary_v1_SubscriberInfo__Output>
      TopicInfo: MessageTypeDefinition<_tributary_v1_TopicInfo, _tributary_v1_TopicInfo__Output>
    }
  }
}

