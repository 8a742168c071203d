import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _tributary_v1_Ack, Ack__Output as _tributary_v1_Ack__Output } from './tributary/v1/Ack';
import type { Appended as _tributary_v1_Appended, Appended__Output as _tributary_v1_Appended__Output } from './tributary/v1/Appended';
import type { CaughtUp as _tributary_v1_CaughtUp, CaughtUp__Output as _tributary_v1_CaughtUp__Output } from './tributary/v1/CaughtUp';
import type { CommitEnd as _tributary_v1_CommitEnd, CommitEnd__Output as _tributary_v1_CommitEnd__Output } from './tributary/v1/CommitEnd';
import type { Entry as _tributary_v1_Entry, Entry__Output as _tributary_v1_Entry__Output } from './tributary/v1/Entry';
import type { HaveQuery as _tributary_v1_HaveQuery, HaveQuery__Output as _tributary_v1_HaveQuery__Output } from './tributary/v1/HaveQuery';
import type { HaveReply as _tributary_v1_HaveReply, HaveReply__Output as _tributary_v1_HaveReply__Output } from './tributary/v1/HaveReply';
import type { ObjectBatch as _tributary_v1_ObjectBatch, ObjectBatch__Output as _tributary_v1_ObjectBatch__Output } from './tributary/v1/ObjectBatch';
import type { ObjectDelta as _tributary_v1_ObjectDelta, ObjectDelta__Output as _tributary_v1_ObjectDelta__Output } from './tributary/v1/ObjectDelta';
import type { ObjectFrame as _tributary_v1_ObjectFrame, ObjectFrame__Output as _tributary_v1_ObjectFrame__Output } from './tributary/v1/ObjectFrame';
import type { PublishHello as _tributary_v1_PublishHello, PublishHello__Output as _tributary_v1_PublishHello__Output } from './tributary/v1/PublishHello';
import type { PublishRequest as _tributary_v1_PublishRequest, PublishRequest__Output as _tributary_v1_PublishRequest__Output } from './tributary/v1/PublishRequest';
import type { PublishResponse as _tributary_v1_PublishResponse, PublishResponse__Output as _tributary_v1_PublishResponse__Output } from './tributary/v1/PublishResponse';
import type { PublishStart as _tributary_v1_PublishStart, PublishStart__Output as _tributary_v1_PublishStart__Output } from './tributary/v1/PublishStart';
import type { PublishState as _tributary_v1_PublishState, PublishState__Output as _tributary_v1_PublishState__Output } from './tributary/v1/PublishState';
import type { SubscribeRequest as _tributary_v1_SubscribeRequest, SubscribeRequest__Output as _tributary_v1_SubscribeRequest__Output } from './tributary/v1/SubscribeRequest';
import type { SubscribeResponse as _tributary_v1_SubscribeResponse, SubscribeResponse__Output as _tributary_v1_SubscribeResponse__Output } from './tributary/v1/SubscribeResponse';
import type { SubscribeStart as _tributary_v1_SubscribeStart, SubscribeStart__Output as _tributary_v1_SubscribeStart__Output } from './tributary/v1/SubscribeStart';
import type { SubscribeState as _tributary_v1_SubscribeState, SubscribeState__Output as _tributary_v1_SubscribeState__Output } from './tributary/v1/SubscribeState';
import type { SyncServiceClient as _tributary_v1_SyncServiceClient, SyncServiceDefinition as _tributary_v1_SyncServiceDefinition } from './tributary/v1/SyncService';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tributary: {
    v1: {
      Ack: MessageTypeDefinition<_tributary_v1_Ack, _tributary_v1_Ack__Output>
      Appended: MessageTypeDefinition<_tributary_v1_Appended, _tributary_v1_Appended__Output>
      CaughtUp: MessageTypeDefinition<_tributary_v1_CaughtUp, _tributary_v1_CaughtUp__Output>
      CommitEnd: MessageTypeDefinition<_tributary_v1_CommitEnd, _tributary_v1_CommitEnd__Output>
      Entry: MessageTypeDefinition<_tributary_v1_Entry, _tributary_v1_Entry__Output>
      HaveQuery: MessageTypeDefinition<_tributary_v1_HaveQuery, _tributary_v1_HaveQuery__Output>
      HaveReply: MessageTypeDefinition<_tributary_v1_HaveReply, _tributary_v1_HaveReply__Output>
      ObjectBatch: MessageTypeDefinition<_tributary_v1_ObjectBatch, _tributary_v1_ObjectBatch__Output>
      ObjectDelta: MessageTypeDefinition<_tributary_v1_ObjectDelta, _tributary_v1_ObjectDelta__Output>
      ObjectFrame: MessageTypeDefinition<_tributary_v1_ObjectFrame, _tributary_v1_ObjectFrame__Output>
      ObjectKind: EnumTypeDefinition
      PublishHello: MessageTypeDefinition<_tributary_v1_PublishHello, _tributary_v1_PublishHello__Output>
      PublishRequest: MessageTypeDefinition<_tributary_v1_PublishRequest, _tributary_v1_PublishRequest__Output>
      PublishResponse: MessageTypeDefinition<_tributary_v1_PublishResponse, _tributary_v1_PublishResponse__Output>
      PublishStart: MessageTypeDefinition<_tributary_v1_PublishStart, _tributary_v1_PublishStart__Output>
      PublishState: MessageTypeDefinition<_tributary_v1_PublishState, _tributary_v1_PublishState__Output>
      SubscribeRequest: MessageTypeDefinition<_tributary_v1_SubscribeRequest, _tributary_v1_SubscribeRequest__Output>
      SubscribeResponse: MessageTypeDefinition<_tributary_v1_SubscribeResponse, _tributary_v1_SubscribeResponse__Output>
      SubscribeStart: MessageTypeDefinition<_tributary_v1_SubscribeStart, _tributary_v1_SubscribeStart__Output>
      SubscribeState: MessageTypeDefinition<_tributary_v1_SubscribeState, _tributary_v1_SubscribeState__Output>
      SyncService: SubtypeConstructor<typeof grpc.Client, _tributary_v1_SyncServiceClient> & { service: _tributary_v1_SyncServiceDefinition }
    }
  }
}

