// Original file: proto/tributary/v1/sync.proto


export interface PublishHello {
  'topic'?: (string);
  'commit'?: (string);
}

export interface PublishHello__Output {
  'topic': (string);
  'commit': (string);
}
