// Original file: proto/tributary/v1/admin.proto

import type { TopicInfo as _tributary_v1_TopicInfo, TopicInfo__Output as _tributary_v1_TopicInfo__Output } from '../../tributary/v1/TopicInfo';

export interface ListTopicsResponse {
  'topics'?: (_tributary_v1_TopicInfo)[];
}

export interface ListTopicsResponse__Output {
  'topics': (_tributary_v1_TopicInfo__Output)[];
}
