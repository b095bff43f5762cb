{
  "targets": [
    {
      "target_name": "shmsnap_shm",
      "sources": ["native/shm.cc", "native/aead.cc", "native/crc32.cc", "native/inflate.cc", "native/deflate.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
