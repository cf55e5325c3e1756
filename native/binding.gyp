{
  "targets": [
    {
      "target_name": "netwasm",
      "sources": ["netwasm.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "cflags_c": ["-std=gnu11"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "libraries": ["-lpthread", "-ldl"]
    }
  ]
}
