#include "core/amf_value.hpp"
