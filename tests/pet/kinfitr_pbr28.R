# kinfitr's own fits of its [11C]PBR28 data (tests/pet/test_plasma.cpp, Plasma.Pbr28MatchesKinfitr).
# Usage: Rscript kinfitr_pbr28.R <kinfitr source dir> <id> ...   (ids as in kinfitr's pbr28$PET)
# Prints per id and region: the delay of kinfitr's default 1TCM fit (min), then 1TCM, 2TCM and Logan
# (last 10 frames, uniform weights) V_T with the input shifted by that delay: delay K1-k2-vB-VT of
# 1TCM, 2TCM VT and k4, Logan VT.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages({
  library(minpack.lm); library(pracma); library(magrittr); library(tibble)
  library(dplyr); library(purrr); library(tidyr)
})
for (f in c("kinfitr_1tcm.R", "kinfitr_2tcm.R", "kinfitr_bloodfuncs.R", "kinfitr_loganplot.R",
            "kinfitr_miscfuncs.R", "kinfitr_weights.R", "utils-pipe.R")) {
  source(file.path(args[1], "R", f))
}
load(file.path(args[1], "data", "pbr28.RData"))
for (id in args[-1]) {
  m <- which(pbr28$PET == id)
  d <- pbr28$tacs[[m]]
  input <- pbr28$input[[m]]
  t <- d$Times / 60
  for (roi in c("FC", "WB")) {
    o1 <- suppressWarnings(onetcm(t, d[[roi]], input, d$Weights))
    s <- o1$par$inpshift
    o2 <- suppressWarnings(twotcm(t, d[[roi]], input, d$Weights, inpshift = s))
    lg <- suppressWarnings(Loganplot(t, d[[roi]], input, tstar = 10, inpshift = s))
    cat(id, roi, sprintf("%.7g", c(s, o1$par$Vt, o1$par$K1, o1$par$k2, o1$par$vB, o2$par$Vt, o2$par$k4, lg$par$Vt)), "\n")
  }
}
