import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CommitEnd as _tributary_v1_CommitEnd, CommitEnd__Output as _tributary_v1_CommitEnd__Output } from './tributary/v1/CommitEnd';
import type { HaveQuery as _tributary_v1_HaveQuery, HaveQuery__Output as _tributary_v1_HaveQuery__Output } from './tributary/v1/HaveQuery';
import type { HaveReply as _tributary_v1_HaveReply, HaveReply__Output as _tributary_v1_HaveReply__Output } from './tributary/v1/HaveReply';
import type { ObjectBatch as _tributary_v1_ObjectBatch, ObjectBatch__Output as _tributary_v1_ObjectBatch__Output } from './tributary/v1/ObjectBatch';
import type { ObjectDelta as _tributary_v1_ObjectDelta, ObjectDelta__Output as _tributary_v1_ObjectDelta__Output } from './tributary/v1/ObjectDelta';
import type { ObjectFrame as _tributary_v1_ObjectFrame, ObjectFrame__Output as _tributary_v1_ObjectFrame__Output } from './tributary/v1/ObjectFrame';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tributary: {
    v1: {
      CommitEnd: MessageTypeDefinition<_tributary_v1_CommitEnd, _tributary_v1_CommitEnd__Output>
      HaveQuery: MessageTypeDefinition<_tributary_v1_HaveQuery, _tributary_v1_HaveQuery__Output>
      HaveReply: MessageTypeDefinition<_tributary_v1_HaveReply, _tributary_v1_HaveReply__Output>
      ObjectBatch: MessageTypeDefinition<_tributary_v1_ObjectBatch, _tributary_v1_ObjectBatch__Output>
      ObjectDelta: MessageTypeDefinition<_tributary_v1_ObjectDelta, _tributary_v1_ObjectDelta__Output>
      ObjectFrame: MessageTypeDefinition<_tributary_v1_ObjectFrame, _tributary_v1_ObjectFrame__Output>
      ObjectKind: EnumTypeDefinition
    }
  }
}

