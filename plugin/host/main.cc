#include <cstdio>
int main() { std::puts("kam: host under construction"); return 0; }
