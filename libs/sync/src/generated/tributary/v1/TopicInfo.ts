// Original file: proto/tributary/v1/admin.proto

import type { SubscriberInfo as _tributary_v1_SubscriberInfo, SubscriberInfo__Output as _tributary_v1_SubscriberInfo__Output } from '../../tributary/v1/SubscriberInfo';
import type { Long } from '@grpc/proto-loader';

export interface TopicInfo {
  'topic'?: (string);
  'head'?: (string);
  'seq'?: (number | string | Long);
  'subscribers'?: (_tributary_v1_SubscriberInfo)[];
  'subscribersOmitted'?: (number | string | Long);
}

export interface TopicInfo__Output {
  'topic': (string);
  'head': (string);
  'seq': (number);
  'subscribers': (_tributary_v1_SubscriberInfo__Output)[];
  'subscribersOmitted': (number);
}
