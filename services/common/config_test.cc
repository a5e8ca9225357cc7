// Placeholder replaced by the flag tests.
#include "gtest/gtest.h"
