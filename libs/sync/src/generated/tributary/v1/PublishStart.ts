// Original file: proto/tributary/v1/sync.proto


export interface PublishStart {
  'base'?: (string);
  'commits'?: (string)[];
}

export interface PublishStart__Output {
  'base': (string);
  'commits': (string)[];
}
