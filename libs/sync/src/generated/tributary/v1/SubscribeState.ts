// Original file: proto/tributary/v1/sync.proto

import type { Long } from '@grpc/proto-loader';

export interface SubscribeState {
  'cursor'?: (number | string | Long);
  'headSeq'?: (number | string | Long);
}

export interface SubscribeState__Output {
  'cursor': (number);
  'headSeq': (number);
}
