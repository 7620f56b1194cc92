# gclat: the latency harness (see harness/README.md).  Included by the top Makefile.
