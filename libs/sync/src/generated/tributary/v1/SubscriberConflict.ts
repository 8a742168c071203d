// Original file: proto/tributary/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface SubscriberConflict {
  'seq'?: (number | string | Long);
  'note'?: (string);
}

export interface SubscriberConflict__Output {
  'seq': (number);
  'note': (string);
}
