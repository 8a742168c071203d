// Original file: proto/tributary/v1/sync.proto

import type { SubscribeState as _tributary_v1_SubscribeState, SubscribeState__Output as _tributary_v1_SubscribeState__Output } from '../../tributary/v1/SubscribeState';
import type { Entry as _tributary_v1_Entry, Entry__Output as _tributary_v1_Entry__Output } from '../../tributary/v1/Entry';
import type { HaveQuery as _tributary_v1_HaveQuery, HaveQuery__Output as _tributary_v1_HaveQuery__Output } from '../../tributary/v1/HaveQuery';
import type { ObjectBatch as _tributary_v1_ObjectBatch, ObjectBatch__Output as _tributary_v1_ObjectBatch__Output } from '../../tributary/v1/ObjectBatch';
import type { CommitEnd as _tributary_v1_CommitEnd, CommitEnd__Output as _tributary_v1_CommitEnd__Output } from '../../tributary/v1/CommitEnd';
import type { CaughtUp as _tributary_v1_CaughtUp, CaughtUp__Output as _tributary_v1_CaughtUp__Output } from '../../tributary/v1/CaughtUp';

export interface SubscribeResponse {
  'state'?: (_tributary_v1_SubscribeState | null);
  'entry'?: (_tributary_v1_Entry | null);
  'haveQuery'?: (_tributary_v1_HaveQuery | null);
  'objects'?: (_tributary_v1_ObjectBatch | null);
  'commitEnd'?: (_tributary_v1_CommitEnd | null);
  'caughtUp'?: (_tributary_v1_CaughtUp | null);
  'body'?: "state"|"entry"|"haveQuery"|"objects"|"commitEnd"|"caughtUp";
}

export interface SubscribeResponse__Output {
  'state'?: (_tributary_v1_SubscribeState__Output | null);
  'entry'?: (_tributary_v1_Entry__Output | null);
  'haveQuery'?: (_tributary_v1_HaveQuery__Output | null);
  'objects'?: (_tributary_v1_ObjectBatch__Output | null);
  'commitEnd'?: (_tributary_v1_CommitEnd__Output | null);
  'caughtUp'?: (_tributary_v1_CaughtUp__Output | null);
  'body'?: "state"|"entry"|"haveQuery"|"objects"|"commitEnd"|"caughtUp";
}
