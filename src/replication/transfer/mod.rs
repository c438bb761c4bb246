//! State transfer: the data copy (`copy`); `donor` and `joiner` serve and take one.

pub mod copy;
