// Original file: proto/tributary/v1/sync.proto

import type { PublishState as _tributary_v1_PublishState, PublishState__Output as _tributary_v1_PublishState__Output } from '../../tributary/v1/PublishState';
import type { HaveReply as _tributary_v1_HaveReply, HaveReply__Output as _tributary_v1_HaveReply__Output } from '../../tributary/v1/HaveReply';
import type { Appended as _tributary_v1_Appended, Appended__Output as _tributary_v1_Appended__Output } from '../../tributary/v1/Appended';

export interface PublishResponse {
  'state'?: (_tributary_v1_PublishState | null);
  'haveReply'?: (_tributary_v1_HaveReply | null);
  'appended'?: (_tributary_v1_Appended | null);
  'body'?: "state"|"haveReply"|"appended";
}

export interface PublishResponse__Output {
  'state'?: (_tributary_v1_PublishState__Output | null);
  'haveReply'?: (_tributary_v1_HaveReply__Output | null);
  'appended'?: (_tributary_v1_Appended__Output | null);
  'body'?: "state"|"haveReply"|"appended";
}
