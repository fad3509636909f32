// Written by the test author; placeholder so that CMake configures.
