# rtvm: the language VM (see vm/README.md).  Included by the top Makefile.
