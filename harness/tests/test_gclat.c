/* placeholder replaced by the harness tests */
int main(void) { return 0; }
