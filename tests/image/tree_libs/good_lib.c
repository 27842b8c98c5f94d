// A small shared library a tree image admits (plain code, no refused instruction).
int tree_good_add(int a, int b) { return a + b; }
