// Original file: proto/tributary/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface SubscriberInfo {
  'name'?: (string);
  'cursor'?: (number | string | Long);
  'lag'?: (number | string | Long);
}

export interface SubscriberInfo__Output {
  'name': (string);
  'cursor': (number);
  'lag': (number);
}
