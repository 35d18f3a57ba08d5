#include <stdio.h>

#include "fluxshard/fluxshard.h"

int main(void) {
  printf("%s\n", fx_version());
  return fx_version_number() == FX_VERSION_NUMBER ? 0 : 1;
}
