// Original file: proto/tributary/v1/sync.proto

import type { Long } from '@grpc/proto-loader';

export interface SubscribeStart {
  'topic'?: (string);
  'subscriber'?: (string);
  'fromSeq'?: (number | string | Long);
  'latest'?: (boolean);
  'follow'?: (boolean);
  'held'?: (string);
}

export interface SubscribeStart__Output {
  'topic': (string);
  'subscriber': (string);
  'fromSeq': (number);
  'latest': (boolean);
  'follow': (boolean);
  'held': (string);
}
