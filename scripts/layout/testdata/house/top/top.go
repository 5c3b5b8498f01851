package top

// Name is what the leaf wants.
const Name = "top"
