// Original file: proto/tributary/v1/sync.proto

import type { PublishHello as _tributary_v1_PublishHello, PublishHello__Output as _tributary_v1_PublishHello__Output } from '../../tributary/v1/PublishHello';
import type { PublishStart as _tributary_v1_PublishStart, PublishStart__Output as _tributary_v1_PublishStart__Output } from '../../tributary/v1/PublishStart';
import type { HaveQuery as _tributary_v1_HaveQuery, HaveQuery__Output as _tributary_v1_HaveQuery__Output } from '../../tributary/v1/HaveQuery';
import type { ObjectBatch as _tributary_v1_ObjectBatch, ObjectBatch__Output as _tributary_v1_ObjectBatch__Output } from '../../tributary/v1/ObjectBatch';
import type { CommitEnd as _tributary_v1_CommitEnd, CommitEnd__Output as _tributary_v1_CommitEnd__Output } from '../../tributary/v1/CommitEnd';

export interface PublishRequest {
  'hello'?: (_tributary_v1_PublishHello | null);
  'start'?: (_tributary_v1_PublishStart | null);
  'haveQuery'?: (_tributary_v1_HaveQuery | null);
  'objects'?: (_tributary_v1_ObjectBatch | null);
  'commitEnd'?: (_tributary_v1_CommitEnd | null);
  'body'?: "hello"|"start"|"haveQuery"|"objects"|"commitEnd";
}

export interface PublishRequest__Output {
  'hello'?: (_tributary_v1_PublishHello__Output | null);
  'start'?: (_tributary_v1_PublishStart__Output | null);
  'haveQuery'?: (_tributary_v1_HaveQuery__Output | null);
  'objects'?: (_tributary_v1_ObjectBatch__Output | null);
  'commitEnd'?: (_tributary_v1_CommitEnd__Output | null);
  'body'?: "hello"|"start"|"haveQuery"|"objects"|"commitEnd";
}
