"""The shipped FreeSWITCH configuration's Python side: `callcenter fs-config` writes its site file
from the controller's settings (`site`), and `callcenter fs-check` reads a tree the way
FreeSWITCH's preprocessor does (`preprocess`) and checks what it finds (`checks`)."""
