/** This package's version, as package.json says (a unit test keeps the two equal). */
export const VERSION = '0.1.0';
