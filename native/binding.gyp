{
  "targets": [
    {
      "target_name": "bitsmith",
      "sources": ["<!@(node -p \"require('fs').readdirSync('src', {recursive: true}).filter(f => f.endsWith('.cc')).map(f => 'src/' + f).join(' ')\")"],
      "include_dirs": ["src", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "BITSMITH_VERSION=\"<!(node -p \"require('../package.json').version\")\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2"],
      # Warnings are explicit: the build is warning-free with gcc 12 and clang 14, and
      # scripts/fuzz.mjs compiles every source with these flags and -Werror (clang).
      "cflags_cc": [
        "-std=c++17", "-fexceptions", "-O3", "-pthread",
        "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wformat=2", "-Wnon-virtual-dtor",
        "-Wpointer-arith", "-Wimplicit-fallthrough", "-Wundef", "-Wcast-qual"
      ],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "WARNING_CFLAGS": [
          "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wformat=2", "-Wnon-virtual-dtor",
          "-Wpointer-arith", "-Wimplicit-fallthrough", "-Wundef", "-Wcast-qual"
        ],
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "AdditionalOptions": ["/std:c++17"]
        }
      },
      "conditions": [
        ["OS=='win'", { "defines": ["_HAS_EXCEPTIONS=1"] }],
        ["target_arch=='x64' and OS!='win'", { "cflags_cc": ["-march=x86-64-v2"] }]
      ]
    }
  ]
}
