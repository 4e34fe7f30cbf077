/* The window a map graph shows, for the server to draw the grid image at screen size. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  lifecircle: {
    mapView: function (relayout, figure, graphId, previous) {
      // after a pan or zoom plotly has the new ranges already: ask at once; after a new
      // figure, wait for plotly to draw it
      var cc = window.dash_clientside.callback_context;
      var fromFigure = !cc || !cc.triggered || cc.triggered.some(function (t) {
        return t.prop_id && t.prop_id.slice(-7) === ".figure";
      });
      return new Promise(function (resolve) {
        setTimeout(function () {
          var root = document.getElementById(graphId);
          var gd = root && root.querySelector(".js-plotly-plot");
          var nu = window.dash_clientside.no_update;
          var lay = (figure && figure.layout) || {};
          var meta = lay.meta || {};
          var im = (lay.images && lay.images[lay.images.length - 1]) || null;
          if (!im || !meta.w) {
            // no map drawn yet: ask for the whole area at the graph's size, so that the
            // first image already has the right size and aspect (one drawing, not two)
            var el = (gd && gd.clientHeight) ? gd : root;  // the plot's own div if drawn
            var box = el && el.getBoundingClientRect();
            if (previous || !box || box.width < 50 || box.height < 50) {
              resolve(nu);
              return;
            }
            resolve({w: Math.round(box.width), h: Math.round(box.height), whole: true});
            return;
          }
          if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis || !gd._fullLayout._size) {
            resolve(nu);
            return;
          }
          var fl = gd._fullLayout;
          var v = {x: fl.xaxis.range.slice(), y: fl.yaxis.range.slice(),
                   w: Math.round(fl._size.w), h: Math.round(fl._size.h)};
          if (meta.w === v.w && meta.h === v.h) {
            var tx = 1e-6 * (v.x[1] - v.x[0]), ty = 1e-6 * (v.y[1] - v.y[0]);
            if (Math.abs(im.x - v.x[0]) < tx && Math.abs(im.x + im.sizex - v.x[1]) < tx &&
                Math.abs(im.y - v.y[1]) < ty && Math.abs(im.y - im.sizey - v.y[0]) < ty) {
              resolve(nu);
              return;
            }
          }
          if (previous && previous.x && previous.y && previous.w === v.w &&
              previous.h === v.h && previous.x[0] === v.x[0] && previous.x[1] === v.x[1] &&
              previous.y[0] === v.y[0] && previous.y[1] === v.y[1]) {
            resolve(nu);
            return;
          }
          resolve(v);
        }, fromFigure ? 60 : 0);
      });
    }
  }
});
