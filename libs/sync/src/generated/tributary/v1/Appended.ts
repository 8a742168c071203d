// Original file: proto/tributary/v1/sync.proto

import type { Long } from '@grpc/proto-loader';

export interface Appended {
  'commit'?: (string);
  'seq'?: (number | string | Long);
  'already'?: (boolean);
}

export interface Appended__Output {
  'commit': (string);
  'seq': (number);
  'already': (boolean);
}
