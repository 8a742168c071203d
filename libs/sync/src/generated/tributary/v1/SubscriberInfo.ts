// Original file: proto/tributary/v1/admin.proto

import type { SubscriberConflict as _tributary_v1_SubscriberConflict, SubscriberConflict__Output as _tributary_v1_SubscriberConflict__Output } from '../../tributary/v1/SubscriberConflict';
import type { Long } from '@grpc/proto-loader';

export interface SubscriberInfo {
  'name'?: (string);
  'cursor'?: (number | string | Long);
  'lag'?: (number | string | Long);
  'conflicts'?: (_tributary_v1_SubscriberConflict)[];
}

export interface SubscriberInfo__Output {
  'name': (string);
  'cursor': (number);
  'lag': (number);
  'conflicts': (_tributary_v1_SubscriberConflict__Output)[];
}
