// Original file: proto/tributary/v1/sync.proto

import type { SubscribeStart as _tributary_v1_SubscribeStart, SubscribeStart__Output as _tributary_v1_SubscribeStart__Output } from '../../tributary/v1/SubscribeStart';
import type { HaveReply as _tributary_v1_HaveReply, HaveReply__Output as _tributary_v1_HaveReply__Output } from '../../tributary/v1/HaveReply';
import type { Ack as _tributary_v1_Ack, Ack__Output as _tributary_v1_Ack__Output } from '../../tributary/v1/Ack';

export interface SubscribeRequest {
  'start'?: (_tributary_v1_SubscribeStart | null);
  'haveReply'?: (_tributary_v1_HaveReply | null);
  'ack'?: (_tributary_v1_Ack | null);
  'body'?: "start"|"haveReply"|"ack";
}

export interface SubscribeRequest__Output {
  'start'?: (_tributary_v1_SubscribeStart__Output | null);
  'haveReply'?: (_tributary_v1_HaveReply__Output | null);
  'ack'?: (_tributary_v1_Ack__Output | null);
  'body'?: "start"|"haveReply"|"ack";
}
