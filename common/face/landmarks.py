"""Indices into MediaPipe's 478-point face mesh, grouped by the features the animator moves."""

from __future__ import annotations

FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
# Inner lip contours run corner to corner: 78 (image-left corner) to 308 (image-right corner).
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
MOUTH_CORNERS = (61, 291, 78, 308)
# Eyelids, corner to corner; "right"/"left" are the subject's.
RIGHT_UPPER_LID = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_LOWER_LID = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_UPPER_LID = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_LOWER_LID = (263, 249, 390, 373, 374, 380, 381, 382, 362)
RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
NOSE = (1, 4, 5, 195, 197, 6, 168, 98, 327, 2, 97, 326, 129, 358, 64, 294, 48, 278)
CHEEKS_AND_CHIN = (
    50,
    280,
    205,
    425,
    187,
    411,
    123,
    352,
    116,
    345,
    207,
    427,
    214,
    434,
    212,
    432,
    202,
    422,
    204,
    424,
    194,
    418,
    200,
    199,
    175,
    18,
    83,
    313,
    201,
    421,
    57,
    287,
    186,
    410,
    92,
    322,
    165,
    391,
    167,
    393,
    164,
    106,
    335,
    182,
    406,
    43,
    273,
    32,
    262,
    140,
    369,
    171,
    396,
    208,
    428,
)
# Eye interiors: keep the eyeball region's triangles small so a closing lid does not drag the iris with it.
RIGHT_EYE_INNER = (468, 469, 470, 471, 472)
LEFT_EYE_INNER = (473, 474, 475, 476, 477)
CHIN_BOTTOM = 152

INNER_LIP_RING = UPPER_INNER_LIP + LOWER_INNER_LIP[-2:0:-1]  # closed polygon, no repeated corners
