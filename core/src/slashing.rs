//! Slashing rules as small pure functions (double vote, surround vote, double proposal).
