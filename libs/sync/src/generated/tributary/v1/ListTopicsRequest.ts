// Original file: proto/tributary/v1/admin.proto


export interface ListTopicsRequest {
  'topic'?: (string);
}

export interface ListTopicsRequest__Output {
  'topic': (string);
}
