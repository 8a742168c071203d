// Original file: proto/tributary/v1/admin.proto


export interface ListTopicsRequest {
}

export interface ListTopicsRequest__Output {
}
