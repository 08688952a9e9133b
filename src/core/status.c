#include "status.h"

const char *lira_strerror(int status)
{
    switch (status) {
    case LIRA_OK:        return "ok";
    case LIRA_EINVAL:    return "invalid argument";
    case LIRA_ENOMEM:    return "out of memory";
    case LIRA_ERANGE:    return "value out of range";
    case LIRA_EPARSE:    return "malformed input";
    case LIRA_ENOTFOUND: return "not found";
    case LIRA_ETOOBIG:   return "capacity exceeded";
    case LIRA_ESTATE:    return "invalid state";
    case LIRA_EDENIED:   return "denied";
    case LIRA_ECRYPTO:   return "crypto library failure";
    default:             return "unknown status";
    }
}
