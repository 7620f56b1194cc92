#include "vm.h"
int jit_available(void) { return 0; }
int jit_compile(rtvm_program *p, vm_func *f) { return -1; }
void jit_free_all(rtvm_program *p) {}
val jit_enter(rtvm_ctx *c, void *entry, val *fp, int argc) { return 0; }
