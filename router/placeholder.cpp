// placeholder so the router library has a translation unit until the analyzer lands
